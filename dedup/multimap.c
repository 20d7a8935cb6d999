/*
 * multimap.c - see multimap.h. A slot is one 16-byte record, so a lookup
 * touches one cache line.
 */
#include "multimap.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>

void dd_multimap_init(dd_multimap *m)
{
    memset(m, 0, sizeof *m);
    m->nslots = 1024;
    m->slots = dd_calloc(m->nslots, sizeof *m->slots);
}

void dd_multimap_free(dd_multimap *m)
{
    free(m->slots);
    free(m->nodes);
    memset(m, 0, sizeof *m);
}

static size_t slot_of(const dd_multimap_slot *slots, size_t nslots, uint64_t key)
{
    size_t mask = nslots - 1, i = (size_t)(key ^ (key >> 32)) & mask;
    while (slots[i].head && slots[i].key != key)
        i = (i + 1) & mask;
    return i;
}

bool dd_multimap_add_capped(dd_multimap *m, uint64_t key, uint32_t value, uint32_t max)
{
    if (2 * (m->used + 1) > m->nslots) {
        size_t n = m->nslots * 2;
        dd_multimap_slot *slots = dd_calloc(n, sizeof *slots);
        for (size_t i = 0; i < m->nslots; i++)
            if (m->slots[i].head)
                slots[slot_of(slots, n, m->slots[i].key)] = m->slots[i];
        free(m->slots);
        m->slots = slots;
        m->nslots = n;
    }
    dd_multimap_slot *s = &m->slots[slot_of(m->slots, m->nslots, key)];
    if (s->head && s->count >= max)
        return false;
    if (!s->head) {
        s->key = key;
        m->used++;
    }
    dd_grow(&m->nodes, &m->nodes_cap, m->nnodes + 1, sizeof *m->nodes);
    m->nodes[m->nnodes] = (dd_multimap_node){value, s->head};
    s->head = (uint32_t)(++m->nnodes);
    s->count++;
    return true;
}

void dd_multimap_add(dd_multimap *m, uint64_t key, uint32_t value)
{
    dd_multimap_add_capped(m, key, value, UINT32_MAX);
}

uint32_t dd_multimap_first(const dd_multimap *m, uint64_t key)
{
    return m->slots[slot_of(m->slots, m->nslots, key)].head;
}
