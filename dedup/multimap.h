/*
 * multimap.h - a multimap from 64-bit hash keys to 32-bit values (LSH bands
 * to documents or units): open addressing over the keys, each slot heading
 * a list of nodes, newest first. Keys are hashes, so their bits index it.
 */
#ifndef DD_MULTIMAP_H
#define DD_MULTIMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dd_multimap {
    uint64_t *keys;
    uint32_t *heads; /* 1 + first node, 0: empty slot */
    uint32_t *counts; /* nodes in each slot's list */
    size_t nslots, used;
    uint32_t *value; /* per node */
    uint32_t *next;  /* per node: 1 + next node, 0: end */
    size_t nnodes, value_cap, next_cap;
} dd_multimap;

void dd_multimap_init(dd_multimap *m);
void dd_multimap_free(dd_multimap *m);
void dd_multimap_add(dd_multimap *m, uint64_t key, uint32_t value);
/* Adds value unless key's list already holds max values: the list then keeps
 * the first max added. Returns whether it added. */
bool dd_multimap_add_capped(dd_multimap *m, uint64_t key, uint32_t value, uint32_t max);
/* The first node (1-based) of key's list, 0 if none; walk it with
 * m->next[node - 1] and read m->value[node - 1]. */
uint32_t dd_multimap_first(const dd_multimap *m, uint64_t key);

#endif
