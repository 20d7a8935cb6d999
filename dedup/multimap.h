/*
 * multimap.h - a multimap from 64-bit hash keys to 32-bit values (LSH bands
 * to documents): open addressing over the keys, each slot heading a list of
 * nodes, newest first; a key with one value holds it in its slot. A key may
 * have any number of values and still costs one slot, so no key slows the
 * lookups of others (dd_capped_map, smaller, keeps a few values per key).
 * Homes are salted (dd_table_salt).
 *
 * Memory: a 12-byte slot per key, in a table between 3/8 and 3/4 full (16
 * to 32 bytes a key), and an 8-byte node per value of keys with several;
 * while the table doubles, the old one is held too.
 */
#ifndef DD_MULTIMAP_H
#define DD_MULTIMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Values are below DD_MULTIMAP_MAX_VALUE. */
#define DD_MULTIMAP_LIST 0x80000000u
#define DD_MULTIMAP_MAX_VALUE (DD_MULTIMAP_LIST - 1)

typedef struct dd_multimap_slot {
    uint32_t key_lo, key_hi; /* the key, in two halves: a slot is 12 bytes */
    uint32_t ref;            /* 0: empty; below DD_MULTIMAP_LIST: 1 + the key's one value;
                                else DD_MULTIMAP_LIST + (1 + its newest node) */
} dd_multimap_slot;

typedef struct dd_multimap_node {
    uint32_t value;
    uint32_t next; /* 1 + next node, 0: end */
} dd_multimap_node;

typedef struct dd_multimap {
    uint64_t salt; /* dd_table_salt() */
    dd_multimap_slot *slots;
    size_t nslots, used; /* nslots is a power of two */
    dd_multimap_node *nodes;
    size_t nnodes, nodes_cap;
} dd_multimap;

/* Starts an empty map; free it with dd_multimap_free. Running out of memory,
 * or more than DD_MULTIMAP_MAX_VALUE values, exits with a message, as every
 * dd_ allocation does. */
void dd_multimap_init(dd_multimap *m);
void dd_multimap_free(dd_multimap *m);
/* Adds value (below DD_MULTIMAP_MAX_VALUE) under key. */
void dd_multimap_add(dd_multimap *m, uint64_t key, uint32_t value);

/* The values of one key, newest first:
 *     dd_multimap_iter it = dd_multimap_find(m, key);
 *     for (uint32_t v; dd_multimap_next(&it, &v);) ...
 * Adding to m while iterating is not allowed. */
typedef struct dd_multimap_iter {
    const dd_multimap_node *nodes;
    bool has_single; /* single is a value not given yet */
    uint32_t single;
    uint32_t node; /* 1 + the next node, 0: none */
} dd_multimap_iter;

dd_multimap_iter dd_multimap_find(const dd_multimap *m, uint64_t key);

static inline bool dd_multimap_next(dd_multimap_iter *it, uint32_t *value)
{
    if (it->has_single) {
        it->has_single = false;
        *value = it->single;
        return true;
    }
    if (it->node == 0)
        return false;
    const dd_multimap_node *n = &it->nodes[it->node - 1];
    *value = n->value;
    it->node = n->next;
    return true;
}

/* Starts loading the cache line where the search for key starts. A caller
 * about to look up several keys (the bands of one signature) prefetches them
 * all first, so that their cache misses overlap instead of adding up. */
static inline void dd_multimap_prefetch(const dd_multimap *m, uint64_t key)
{
    __builtin_prefetch(&m->slots[dd_table_home(key, m->salt, m->nslots - 1)]);
}

#endif
