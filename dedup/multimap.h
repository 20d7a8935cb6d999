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

typedef struct dd_multimap_slot {
    uint64_t key;
    uint32_t head;  /* 1 + first node, 0: empty slot */
    uint32_t count; /* nodes in the list */
} dd_multimap_slot;

typedef struct dd_multimap_node {
    uint32_t value;
    uint32_t next; /* 1 + next node, 0: end */
} dd_multimap_node;

typedef struct dd_multimap {
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
/* The first node (1-based) of key's list, 0 if none; walk it with
 * m->nodes[node - 1].next and read m->nodes[node - 1].value. */
uint32_t dd_multimap_first(const dd_multimap *m, uint64_t key);

#endif
