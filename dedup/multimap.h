/*
 * multimap.h - a multimap from 64-bit hash keys to 32-bit values (LSH bands
 * to documents or units): open addressing over the keys, each slot heading
 * a list of nodes, newest first; a key with one value holds it in its slot.
 * Keys are hashes, so their bits index it.
 */
#ifndef DD_MULTIMAP_H
#define DD_MULTIMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct dd_multimap_slot {
    uint64_t key;
    uint32_t count; /* values listed, 0: empty slot */
    uint32_t ref;   /* count 1: the value itself; more: 1 + its first node */
} dd_multimap_slot;

typedef struct dd_multimap_node {
    uint32_t value;
    uint32_t next; /* 1 + next node, 0: end */
} dd_multimap_node;

typedef struct dd_multimap {
    uint64_t salt; /* dd_table_salt() */
    dd_multimap_slot *slots;
    size_t nslots, used;
    dd_multimap_node *nodes;
    size_t nnodes, nodes_cap;
} dd_multimap;

void dd_multimap_init(dd_multimap *m);
void dd_multimap_free(dd_multimap *m);
void dd_multimap_add(dd_multimap *m, uint64_t key, uint32_t value);
/* Adds value unless key's list already holds max values: the list then keeps
 * the first max added. Returns whether it added. */
bool dd_multimap_add_capped(dd_multimap *m, uint64_t key, uint32_t value, uint32_t max);

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

/* The slot where the search for key starts. */
static inline size_t dd_multimap_home(const dd_multimap *m, uint64_t key)
{
    return dd_table_home(key, m->salt, m->nslots - 1);
}

/* Starts loading the cache line where the search for key starts. A caller
 * about to look up several keys (the bands of one signature) prefetches them
 * all first, so that their cache misses overlap instead of adding up. */
static inline void dd_multimap_prefetch(const dd_multimap *m, uint64_t key)
{
    __builtin_prefetch(&m->slots[dd_multimap_home(m, key)]);
}

#endif
