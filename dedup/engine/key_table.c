/*
 * key_table.c - the table from exact keys to numbers (key_table.h).
 */
#include "engine/key_table.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>

void dd_key_table_init(dd_key_table *t, unsigned max_quarters)
{
    *t = (dd_key_table){.nslots = 1024, .max_quarters = max_quarters, .salt = dd_table_salt()};
    t->slots = dd_calloc(t->nslots, sizeof *t->slots);
}

void dd_key_table_free(dd_key_table *t)
{
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* The slot of key in slots[0..nslots), or the empty slot where it would go. */
static size_t find_slot(const dd_key_slot *slots, size_t nslots, uint64_t salt, sh_key key)
{
    size_t mask = nslots - 1, i = dd_table_home(key.lo, salt, mask);
    while (slots[i].value1 && !sh_key_equal(slots[i].key, key))
        i = (i + 1) & mask;
    return i;
}

static void grow(dd_key_table *t)
{
    size_t n = t->nslots * 2;
    dd_key_slot *slots = dd_zalloc_touched(n, sizeof *slots);
    for (size_t i = 0; i < t->nslots; i++)
        if (t->slots[i].value1)
            slots[find_slot(slots, n, t->salt, t->slots[i].key)] = t->slots[i];
    free(t->slots);
    t->slots = slots;
    t->nslots = n;
}

bool dd_key_table_add(dd_key_table *t, sh_key key, size_t value, size_t *had)
{
    if (4 * (t->used + 1) > t->max_quarters * t->nslots)
        grow(t);
    dd_key_slot *s = &t->slots[find_slot(t->slots, t->nslots, t->salt, key)];
    if (s->value1) {
        *had = s->value1 - 1;
        return false;
    }
    *s = (dd_key_slot){key, value + 1};
    t->used++;
    return true;
}

bool dd_key_table_get(const dd_key_table *t, sh_key key, size_t *value)
{
    const dd_key_slot *s = &t->slots[find_slot(t->slots, t->nslots, t->salt, key)];
    if (!s->value1)
        return false;
    *value = s->value1 - 1;
    return true;
}

size_t dd_key_table_bytes(const dd_key_table *t) { return t->nslots * sizeof *t->slots; }
