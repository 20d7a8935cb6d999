/*
 * capped_map.h - a compact multimap from 64-bit hash keys to 32-bit values
 * that keeps at most a few values per key, the first ones added: the LSH
 * band indexes of paragraphs (near_units.c) and of documents (near.c), which
 * hold several entries per paragraph or document of the corpus and so must
 * cost few bytes each, and whose keys must never list so many values that a
 * lookup costs time growing with the corpus.
 *
 * Every entry is one 12-byte slot (the key and the value) of an
 * open-addressing table, at most three quarters full; the entries of a key
 * lie in the run of occupied slots that starts at the key's home slot. The
 * cap bounds that run, so no key can make lookups slow. Keys are compared in
 * full, so lookups are exact. Homes are salted (dd_table_salt).
 *
 * Memory: 16 to 32 bytes per entry (12-byte slots, a table between 3/8 and
 * 3/4 full); while the table doubles, the old one is held too.
 */
#ifndef DD_CAPPED_MAP_H
#define DD_CAPPED_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct dd_capped_slot {
    uint32_t key_lo, key_hi; /* the key, in two halves: a slot is 12 bytes */
    uint32_t value1;         /* 1 + the value; 0: an empty slot */
} dd_capped_slot;

typedef struct dd_capped_map {
    uint64_t salt; /* dd_table_salt() */
    dd_capped_slot *slots;
    size_t nslots, used; /* nslots is a power of two */
} dd_capped_map;

/* Starts an empty map; free it with dd_capped_map_free. Exits with a message
 * when out of memory, as every dd_ allocation does. */
void dd_capped_map_init(dd_capped_map *m);
void dd_capped_map_free(dd_capped_map *m);
/* Empties m, keeping its table (for a map filled again and again), unless
 * the table is over eight times what its entries needed: then a smaller
 * one (emptying costs the table's size). */
void dd_capped_map_clear(dd_capped_map *m);

/* Adds value (below UINT32_MAX) under key unless key already has max values.
 * Returns whether it added. */
bool dd_capped_map_add(dd_capped_map *m, uint64_t key, uint32_t value, uint32_t max);
/* As dd_capped_map_add; *listed: how many values key lists after it. */
bool dd_capped_map_add_listed(dd_capped_map *m, uint64_t key, uint32_t value, uint32_t max,
                              uint32_t *listed);

/* The values of one key, in no particular order:
 *     dd_capped_iter it = dd_capped_map_find(m, key);
 *     for (uint32_t v; dd_capped_next(&it, &v);) ...
 * Adding to m while iterating is not allowed. */
typedef struct dd_capped_iter {
    const dd_capped_slot *slots;
    size_t mask, at; /* the next slot to look at */
    uint32_t key_lo, key_hi;
} dd_capped_iter;

static inline dd_capped_iter dd_capped_map_find(const dd_capped_map *m, uint64_t key)
{
    size_t mask = m->nslots - 1;
    return (dd_capped_iter){m->slots, mask, dd_table_home(key, m->salt, mask), (uint32_t)key,
                            (uint32_t)(key >> 32)};
}

static inline bool dd_capped_next(dd_capped_iter *it, uint32_t *value)
{
    for (;;) {
        const dd_capped_slot *s = &it->slots[it->at];
        if (!s->value1)
            return false; /* the end of the run: no more entries of the key */
        it->at = (it->at + 1) & it->mask;
        if (s->key_lo == it->key_lo && s->key_hi == it->key_hi) {
            *value = s->value1 - 1;
            return true;
        }
    }
}

/* Starts loading the cache line where the search for key starts, so that
 * the misses of several lookups (the bands of one paragraph) overlap. */
static inline void dd_capped_map_prefetch(const dd_capped_map *m, uint64_t key)
{
    __builtin_prefetch(&m->slots[dd_table_home(key, m->salt, m->nslots - 1)]);
}

#endif
