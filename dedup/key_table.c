/*
 * key_table.c - the table from exact keys to numbers (key_table.h).
 */
#include "key_table.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>

#define FIRST_SLOTS 1024

void dd_key_table_init(dd_key_table *t, unsigned max_quarters)
{
    *t = (dd_key_table){
        .nslots = FIRST_SLOTS, .max_quarters = max_quarters, .salt = dd_table_salt()};
    t->slots = dd_room_zalloc_touched(t->nslots * sizeof *t->slots);
}

void dd_key_table_free(dd_key_table *t)
{
    dd_room_resize(t->slots, t->nslots * sizeof *t->slots, 0);
    memset(t, 0, sizeof *t);
}

static bool slot_holds(const dd_key_slot *s, sh_key key)
{
    return s->key[0] == (uint32_t)key.lo && s->key[1] == (uint32_t)(key.lo >> 32) &&
           s->key[2] == (uint32_t)key.hi && s->key[3] == (uint32_t)(key.hi >> 32);
}

static dd_key_slot slot_of(sh_key key, uint32_t value1)
{
    return (dd_key_slot){
        {(uint32_t)key.lo, (uint32_t)(key.lo >> 32), (uint32_t)key.hi, (uint32_t)(key.hi >> 32)},
        value1};
}

static uint64_t slot_key_lo(const dd_key_slot *s) { return (uint64_t)s->key[1] << 32 | s->key[0]; }

/* The slot of key in slots[0..nslots), or the empty slot where it would
 * go. The home is mixed from the key's low half. */
static size_t find_slot(const dd_key_slot *slots, size_t nslots, uint64_t salt, sh_key key)
{
    size_t mask = nslots - 1, i = dd_table_home(key.lo, salt, mask);
    while (slots[i].value1 && !slot_holds(&slots[i], key))
        i = (i + 1) & mask;
    return i;
}

/* The empty slot where an entry already known to be absent goes. */
static size_t free_slot(const dd_key_slot *slots, size_t nslots, uint64_t salt, uint64_t lo)
{
    size_t mask = nslots - 1, i = dd_table_home(lo, salt, mask);
    while (slots[i].value1)
        i = (i + 1) & mask;
    return i;
}

/* Moves the entries to a table of n slots. */
static void resize(dd_key_table *t, size_t n)
{
    dd_key_slot *slots = dd_room_zalloc_touched(n * sizeof *slots);
    for (size_t i = 0; i < t->nslots; i++)
        if (t->slots[i].value1)
            slots[free_slot(slots, n, t->salt, slot_key_lo(&t->slots[i]))] = t->slots[i];
    dd_room_resize(t->slots, t->nslots * sizeof *t->slots, 0);
    t->slots = slots;
    t->nslots = n;
}

/* The number of slots that holds n keys within the fill. */
static size_t slots_for(size_t n, unsigned max_quarters, size_t from)
{
    size_t nslots = from;
    while (4 * n > max_quarters * nslots)
        nslots *= 2;
    return nslots;
}

void dd_key_table_reserve(dd_key_table *t, size_t n)
{
    size_t nslots = slots_for(n, t->max_quarters, t->nslots);
    if (nslots > t->nslots)
        resize(t, nslots);
}

void dd_key_table_reset(dd_key_table *t, size_t n)
{
    size_t nslots = slots_for(n + 1, t->max_quarters, FIRST_SLOTS);
    if (nslots != t->nslots) {
        dd_room_resize(t->slots, t->nslots * sizeof *t->slots, 0);
        t->slots = dd_room_resize(NULL, 0, nslots * sizeof *t->slots);
        t->nslots = nslots;
    }
    memset(t->slots, 0, t->nslots * sizeof *t->slots);
    t->used = 0;
}

dd_key_added dd_key_table_add(dd_key_table *t, sh_key key, size_t value, uint32_t *had)
{
    if (4 * (t->used + 1) > t->max_quarters * t->nslots)
        resize(t, t->nslots * 2);
    dd_key_slot *s = &t->slots[find_slot(t->slots, t->nslots, t->salt, key)];
    if (s->value1) {
        *had = s->value1 - 1;
        return DD_KEY_HAD;
    }
    if (value > DD_KEY_TABLE_MAX_VALUE)
        return DD_KEY_FULL;
    *s = slot_of(key, (uint32_t)value + 1);
    t->used++;
    return DD_KEY_ADDED;
}

bool dd_key_table_get(const dd_key_table *t, sh_key key, uint32_t *value)
{
    const dd_key_slot *s = &t->slots[find_slot(t->slots, t->nslots, t->salt, key)];
    if (!s->value1)
        return false;
    *value = s->value1 - 1;
    return true;
}

size_t dd_key_table_bytes(const dd_key_table *t) { return t->nslots * sizeof *t->slots; }
