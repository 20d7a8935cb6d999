/*
 * multimap.c - see multimap.h.
 */
#include "multimap.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>

void dd_multimap_init(dd_multimap *m)
{
    memset(m, 0, sizeof *m);
    m->nslots = 1024;
    m->keys = dd_calloc(m->nslots, sizeof *m->keys);
    m->heads = dd_calloc(m->nslots, sizeof *m->heads);
    m->counts = dd_calloc(m->nslots, sizeof *m->counts);
}

void dd_multimap_free(dd_multimap *m)
{
    free(m->keys);
    free(m->heads);
    free(m->counts);
    free(m->value);
    free(m->next);
    memset(m, 0, sizeof *m);
}

static size_t slot_of(const dd_multimap *m, uint64_t key)
{
    size_t mask = m->nslots - 1, i = (size_t)(key ^ (key >> 32)) & mask;
    while (m->heads[i] && m->keys[i] != key)
        i = (i + 1) & mask;
    return i;
}

bool dd_multimap_add_capped(dd_multimap *m, uint64_t key, uint32_t value, uint32_t max)
{
    if (2 * (m->used + 1) > m->nslots) {
        dd_multimap old = *m;
        m->nslots *= 2;
        m->keys = dd_calloc(m->nslots, sizeof *m->keys);
        m->heads = dd_calloc(m->nslots, sizeof *m->heads);
        m->counts = dd_calloc(m->nslots, sizeof *m->counts);
        for (size_t i = 0; i < old.nslots; i++) {
            if (!old.heads[i])
                continue;
            size_t j = slot_of(m, old.keys[i]);
            m->keys[j] = old.keys[i];
            m->heads[j] = old.heads[i];
            m->counts[j] = old.counts[i];
        }
        free(old.keys);
        free(old.heads);
        free(old.counts);
    }
    size_t slot = slot_of(m, key);
    if (m->heads[slot] && m->counts[slot] >= max)
        return false;
    dd_grow(&m->value, &m->value_cap, m->nnodes + 1, sizeof *m->value);
    dd_grow(&m->next, &m->next_cap, m->nnodes + 1, sizeof *m->next);
    if (!m->heads[slot]) {
        m->keys[slot] = key;
        m->used++;
    }
    m->value[m->nnodes] = value;
    m->next[m->nnodes] = m->heads[slot];
    m->heads[slot] = (uint32_t)(++m->nnodes);
    m->counts[slot]++;
    return true;
}

void dd_multimap_add(dd_multimap *m, uint64_t key, uint32_t value)
{
    dd_multimap_add_capped(m, key, value, UINT32_MAX);
}

uint32_t dd_multimap_first(const dd_multimap *m, uint64_t key) { return m->heads[slot_of(m, key)]; }
