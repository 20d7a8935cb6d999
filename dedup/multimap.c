/*
 * multimap.c - see multimap.h.
 */
#include "multimap.h"

#include <stdlib.h>
#include <string.h>

void dd_multimap_init(dd_multimap *m)
{
    memset(m, 0, sizeof *m);
    m->salt = dd_table_salt();
    m->nslots = 1024;
    m->slots = dd_zalloc_touched(m->nslots, sizeof *m->slots);
}

void dd_multimap_free(dd_multimap *m)
{
    free(m->slots);
    free(m->nodes);
    memset(m, 0, sizeof *m);
}

/* The slot of key in slots[0..nslots), or the empty slot where it would go. */
static size_t slot_of(const dd_multimap_slot *slots, size_t nslots, uint64_t salt, uint64_t key)
{
    size_t mask = nslots - 1, i = dd_table_home(key, salt, mask);
    uint32_t lo = (uint32_t)key, hi = (uint32_t)(key >> 32);
    while (slots[i].ref && (slots[i].key_lo != lo || slots[i].key_hi != hi))
        i = (i + 1) & mask;
    return i;
}

static uint64_t key_of(const dd_multimap_slot *s) { return (uint64_t)s->key_hi << 32 | s->key_lo; }

/* A new node, 1 + its index. */
static uint32_t new_node(dd_multimap *m, uint32_t value, uint32_t next)
{
    if (m->nnodes >= DD_MULTIMAP_MAX_VALUE) {
        dd_error("more than %u LSH band entries", (unsigned)DD_MULTIMAP_MAX_VALUE);
        exit(DD_EXIT_ERROR);
    }
    dd_grow(&m->nodes, &m->nodes_cap, m->nnodes + 1, sizeof *m->nodes);
    m->nodes[m->nnodes] = (dd_multimap_node){value, next};
    return (uint32_t)(++m->nnodes);
}

static void grow(dd_multimap *m)
{
    size_t n = m->nslots * 2;
    dd_multimap_slot *slots = dd_zalloc_touched(n, sizeof *slots);
    for (size_t i = 0; i < m->nslots; i++)
        if (m->slots[i].ref)
            slots[slot_of(slots, n, m->salt, key_of(&m->slots[i]))] = m->slots[i];
    free(m->slots);
    m->slots = slots;
    m->nslots = n;
}

void dd_multimap_add(dd_multimap *m, uint64_t key, uint32_t value)
{
    if (value >= DD_MULTIMAP_MAX_VALUE) {
        dd_error("more than %u documents", (unsigned)DD_MULTIMAP_MAX_VALUE);
        exit(DD_EXIT_ERROR);
    }
    if (4 * (m->used + 1) > 3 * m->nslots)
        grow(m);
    dd_multimap_slot *s = &m->slots[slot_of(m->slots, m->nslots, m->salt, key)];
    if (s->ref == 0) {
        *s = (dd_multimap_slot){(uint32_t)key, (uint32_t)(key >> 32), value + 1};
        m->used++;
        return;
    }
    uint32_t head = s->ref >= DD_MULTIMAP_LIST ? s->ref - DD_MULTIMAP_LIST
                                               : new_node(m, s->ref - 1, 0); /* the one value */
    s->ref = DD_MULTIMAP_LIST + new_node(m, value, head);
}

dd_multimap_iter dd_multimap_find(const dd_multimap *m, uint64_t key)
{
    const dd_multimap_slot *s = &m->slots[slot_of(m->slots, m->nslots, m->salt, key)];
    dd_multimap_iter it = {m->nodes, false, 0, 0};
    if (s->ref >= DD_MULTIMAP_LIST)
        it.node = s->ref - DD_MULTIMAP_LIST;
    else if (s->ref) {
        it.has_single = true;
        it.single = s->ref - 1;
    }
    return it;
}
