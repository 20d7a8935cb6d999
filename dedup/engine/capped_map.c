/*
 * capped_map.c - see capped_map.h.
 */
#include "engine/capped_map.h"

#include <stdlib.h>
#include <string.h>

#define FIRST_SLOTS 64

void dd_capped_map_init(dd_capped_map *m)
{
    memset(m, 0, sizeof *m);
    m->salt = dd_table_salt();
    m->nslots = FIRST_SLOTS;
    m->slots = dd_zalloc_touched(m->nslots, sizeof *m->slots);
}

void dd_capped_map_free(dd_capped_map *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static uint64_t key_of(const dd_capped_slot *s) { return (uint64_t)s->key_hi << 32 | s->key_lo; }

/* The first empty slot of key's run in slots[0..nslots); *same counts the
 * entries of key met on the way. */
static size_t empty_slot_for(const dd_capped_slot *slots, size_t nslots, uint64_t salt,
                             uint64_t key, uint32_t *same)
{
    size_t mask = nslots - 1, i = dd_table_home(key, salt, mask);
    uint32_t lo = (uint32_t)key, hi = (uint32_t)(key >> 32);
    *same = 0;
    while (slots[i].value1) {
        *same += slots[i].key_lo == lo && slots[i].key_hi == hi;
        i = (i + 1) & mask;
    }
    return i;
}

/* Doubles the table; each entry goes to the end of its key's new run, so a
 * key keeps its entries. */
static void grow(dd_capped_map *m)
{
    size_t n = m->nslots * 2;
    dd_capped_slot *slots = dd_zalloc_touched(n, sizeof *slots);
    for (size_t i = 0; i < m->nslots; i++) {
        if (!m->slots[i].value1)
            continue;
        uint32_t same;
        slots[empty_slot_for(slots, n, m->salt, key_of(&m->slots[i]), &same)] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->nslots = n;
}

bool dd_capped_map_add_listed(dd_capped_map *m, uint64_t key, uint32_t value, uint32_t max,
                              uint32_t *listed)
{
    if (4 * (m->used + 1) > 3 * m->nslots)
        grow(m);
    uint32_t same;
    size_t i = empty_slot_for(m->slots, m->nslots, m->salt, key, &same);
    *listed = same;
    if (same >= max || value == UINT32_MAX)
        return false;
    m->slots[i] = (dd_capped_slot){(uint32_t)key, (uint32_t)(key >> 32), value + 1};
    m->used++;
    (*listed)++;
    return true;
}

bool dd_capped_map_add(dd_capped_map *m, uint64_t key, uint32_t value, uint32_t max)
{
    uint32_t listed;
    return dd_capped_map_add_listed(m, key, value, max, &listed);
}

void dd_capped_map_clear(dd_capped_map *m)
{
    /* A table that once grew for many entries, and now holds few, is made
     * small again: emptying it costs its size, and a map filled again and
     * again (a batch's) would otherwise pay for its largest filling every
     * time. The entries of a key keep their order at any size. */
    size_t fit = FIRST_SLOTS;
    while (fit < 4 * m->used)
        fit *= 2;
    if (m->nslots > 8 * fit) {
        free(m->slots);
        m->nslots = fit;
        m->slots = dd_zalloc_touched(m->nslots, sizeof *m->slots);
    } else {
        memset(m->slots, 0, m->nslots * sizeof *m->slots);
    }
    m->used = 0;
}
