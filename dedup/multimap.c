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

static size_t slot_of(const dd_multimap_slot *slots, size_t nslots, uint64_t salt, uint64_t key)
{
    size_t mask = nslots - 1, i = dd_table_home(key, salt, mask); /* as dd_multimap_home */
    while (slots[i].count && slots[i].key != key)
        i = (i + 1) & mask;
    return i;
}

static uint32_t new_node(dd_multimap *m, uint32_t value, uint32_t next)
{
    dd_grow(&m->nodes, &m->nodes_cap, m->nnodes + 1, sizeof *m->nodes);
    m->nodes[m->nnodes] = (dd_multimap_node){value, next};
    return (uint32_t)(++m->nnodes);
}

bool dd_multimap_add_capped(dd_multimap *m, uint64_t key, uint32_t value, uint32_t max)
{
    if (2 * (m->used + 1) > m->nslots) {
        size_t n = m->nslots * 2;
        dd_multimap_slot *slots = dd_zalloc_touched(n, sizeof *slots);
        for (size_t i = 0; i < m->nslots; i++)
            if (m->slots[i].count)
                slots[slot_of(slots, n, m->salt, m->slots[i].key)] = m->slots[i];
        free(m->slots);
        m->slots = slots;
        m->nslots = n;
    }
    dd_multimap_slot *s = &m->slots[slot_of(m->slots, m->nslots, m->salt, key)];
    if (s->count >= max)
        return false;
    if (s->count == 0) {
        *s = (dd_multimap_slot){key, 1, value};
        m->used++;
        return true;
    }
    if (s->count == 1) /* the value held in the slot moves to a node */
        s->ref = new_node(m, s->ref, 0);
    s->ref = new_node(m, value, s->ref);
    s->count++;
    return true;
}

void dd_multimap_add(dd_multimap *m, uint64_t key, uint32_t value)
{
    dd_multimap_add_capped(m, key, value, UINT32_MAX);
}

dd_multimap_iter dd_multimap_find(const dd_multimap *m, uint64_t key)
{
    const dd_multimap_slot *s = &m->slots[slot_of(m->slots, m->nslots, m->salt, key)];
    dd_multimap_iter it = {m->nodes, false, 0, 0};
    if (s->count == 1) {
        it.has_single = true;
        it.single = s->ref;
    } else if (s->count > 1) {
        it.node = s->ref;
    }
    return it;
}
