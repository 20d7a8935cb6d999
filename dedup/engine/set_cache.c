/*
 * set_cache.c - the cache of shingle sets (set_cache.h).
 */
#include "engine/set_cache.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>

void dd_set_cache_init(dd_set_cache *c, size_t nslots, size_t budget)
{
    *c = (dd_set_cache){.nslots = nslots ? nslots : 1, .budget = budget};
    c->slots = dd_calloc(c->nslots, sizeof *c->slots);
}

/* Empties slot s and frees its buffer. */
static void empty(dd_set_cache *c, dd_cached_set *s)
{
    if (c->budget && s->kept)
        c->bytes -= s->n * sizeof *s->set;
    free(s->set);
    *s = (dd_cached_set){0};
}

void dd_set_cache_forget(dd_set_cache *c)
{
    for (size_t i = 0; i < c->nslots; i++)
        empty(c, &c->slots[i]);
    c->bytes = 0;
}

void dd_set_cache_free(dd_set_cache *c)
{
    if (c->slots)
        dd_set_cache_forget(c);
    free(c->slots);
    memset(c, 0, sizeof *c);
}

const dd_cached_set *dd_set_cache_find(const dd_set_cache *c, uint64_t id, uint32_t version)
{
    const dd_cached_set *s = &c->slots[id % c->nslots];
    return s->kept && s->id1 == id + 1 && s->version == version ? s : NULL;
}

dd_cached_set *dd_set_cache_claim(dd_set_cache *c, uint64_t id, uint32_t version)
{
    dd_cached_set *s = &c->slots[id % c->nslots];
    if (c->budget)
        empty(c, s); /* its sets take their exact sizes */
    s->id1 = id + 1;
    s->version = version;
    s->kept = false;
    s->n = 0;
    return s;
}

void dd_set_cache_keep(dd_set_cache *c, dd_cached_set *slot)
{
    if (c->budget) {
        size_t bytes = slot->n * sizeof *slot->set;
        for (size_t swept = 0; c->bytes + bytes > c->budget && swept < c->nslots; swept++) {
            if (&c->slots[c->hand] != slot)
                empty(c, &c->slots[c->hand]);
            c->hand = (c->hand + 1) % c->nslots;
        }
        c->bytes += bytes;
    }
    slot->kept = true;
}

size_t dd_set_cache_bytes(const dd_set_cache *c)
{
    size_t bytes = 0;
    for (size_t i = 0; i < c->nslots; i++)
        bytes += c->slots[i].cap * sizeof *c->slots[i].set;
    return bytes;
}
