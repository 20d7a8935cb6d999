/*
 * key_table.h - a table from exact keys (sh_key: a paragraph's words) to
 * numbers, for the tables of paragraphs (paragraphs.c, history.c).
 *
 * Open addressing with linear probing in a power-of-two number of slots,
 * each key's home slot salted (util.h: dd_table_home, so that texts
 * cannot be written to pile their keys into one run of slots); the table
 * doubles before it would pass its fill. Lookups give a key's number,
 * never its slot, so nothing decided depends on where an entry sits. A
 * table belongs to one thread. Memory: 24 bytes a slot.
 */
#ifndef DD_KEY_TABLE_H
#define DD_KEY_TABLE_H

#include "shingle.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dd_key_slot {
    sh_key key;
    size_t value1; /* 1 + the key's number; 0: an empty slot */
} dd_key_slot;

typedef struct dd_key_table {
    dd_key_slot *slots;
    size_t nslots; /* a power of two */
    size_t used;
    unsigned max_quarters; /* the fill it never passes, in quarters of nslots */
    uint64_t salt;         /* dd_table_salt() */
} dd_key_table;

/* An empty table that is never more than max_quarters / 4 full (2: half,
 * 3: three quarters). */
void dd_key_table_init(dd_key_table *t, unsigned max_quarters);
void dd_key_table_free(dd_key_table *t);

/* Gives key the number value, unless it has one: then returns false with
 * *had its number. True when it was added. */
bool dd_key_table_add(dd_key_table *t, sh_key key, size_t value, size_t *had);

/* The number of key, if it has one. */
bool dd_key_table_get(const dd_key_table *t, sh_key key, size_t *value);

/* Bytes its slots take. */
size_t dd_key_table_bytes(const dd_key_table *t);

#endif
